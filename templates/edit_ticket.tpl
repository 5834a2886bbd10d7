{{%AUTOESCAPE context="HTML"}}
{{#FORM}}
<form method="post" action="/tickets/{{ID}}/edit" novalidate>
<h1>Edit Ticket</h1>
<div class="field">
<label for="title">Title</label>
<input type="text" name="title" id="title" value="{{TITLE}}" maxlength="200">
</div>
<div class="field">
<label for="price">Price</label>
<input type="text" name="price" id="price" value="{{PRICE}}" inputmode="decimal" data-money>
</div>
<input type="hidden" name="_csrf" value="{{CSRF}}">
{{>ERRORS_BOX}}
<button type="submit">Save</button>
</form>
{{/FORM}}
{{#LOCKED}}
<section class="card">
<h1>Edit Ticket</h1>
<p>{{TITLE}}</p>
{{>ERRORS_BOX}}
</section>
{{/LOCKED}}
<p class="back"><a href="/tickets/mine">My Tickets</a></p>
