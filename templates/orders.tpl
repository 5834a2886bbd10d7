{{%AUTOESCAPE context="HTML"}}
<h1>My Orders</h1>
<ul class="orders">
{{#ORDER}}
<li data-status="{{STATUS}}"><a href="/orders/{{ID}}">{{TITLE}} - {{STATUS}}</a></li>
{{/ORDER}}
{{#NO_ORDERS}}
<li class="empty">You have no orders yet. <a href="/">Find a ticket</a></li>
{{/NO_ORDERS}}
</ul>
