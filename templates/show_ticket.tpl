{{%AUTOESCAPE context="HTML"}}
<section class="card">
<h1>{{TITLE}}</h1>
<h4 class="price">Price: {{PRICE}}</h4>
{{#SOLD}}
<p class="notice sold">Sold</p>
{{/SOLD}}
{{#RESERVED}}
<p class="notice">This ticket is reserved.</p>
{{/RESERVED}}
{{>ERRORS_BOX}}
{{#PURCHASE}}
<form method="post" action="/orders">
<input type="hidden" name="ticketId" value="{{ID}}">
<input type="hidden" name="_csrf" value="{{CSRF}}">
<button type="submit">Purchase</button>
</form>
{{/PURCHASE}}
{{#EDIT}}
<p><a class="edit" href="/tickets/{{ID}}/edit">Edit this ticket</a></p>
{{/EDIT}}
</section>
<p class="back"><a href="/">All tickets</a></p>
