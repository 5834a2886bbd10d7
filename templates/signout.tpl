{{%AUTOESCAPE context="HTML"}}
<form method="post" action="/auth/signout" id="signout-form">
<p class="lead">Signing you out...</p>
<input type="hidden" name="_csrf" value="{{CSRF}}">
{{>ERRORS_BOX}}
<button type="submit">Sign Out</button>
</form>
