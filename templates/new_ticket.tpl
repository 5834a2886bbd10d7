{{%AUTOESCAPE context="HTML"}}
<form method="post" action="/tickets/new" novalidate>
<h1>Create a Ticket</h1>
<div class="field">
<label for="title">Title</label>
<input type="text" name="title" id="title" value="{{TITLE}}">
</div>
<div class="field">
<label for="price">Price</label>
<input type="text" name="price" id="price" value="{{PRICE}}" inputmode="decimal" data-money>
</div>
<input type="hidden" name="_csrf" value="{{CSRF}}">
{{>ERRORS_BOX}}
<button type="submit">Submit</button>
</form>
