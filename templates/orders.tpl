{{%AUTOESCAPE context="HTML"}}
<h1>My Orders</h1>
<ul class="orders">
{{#ORDER}}
<li><a href="/orders/{{ID}}">{{TITLE}} - {{STATUS}}</a></li>
{{/ORDER}}
{{#NO_ORDERS}}
<li class="empty">You have no orders yet.</li>
{{/NO_ORDERS}}
</ul>
