{{%AUTOESCAPE context="HTML"}}
<p class="lead">Signing you out...</p>
<form method="post" action="/auth/signout" id="signout-form">
<input type="hidden" name="_csrf" value="{{CSRF}}">
{{>ERRORS_BOX}}
<button type="submit">Sign Out</button>
</form>
