{{%AUTOESCAPE context="HTML"}}
<form method="post" action="/auth/signin" novalidate>
<h1>Sign In</h1>
<div class="field">
<label for="email">Email Address</label>
<input type="email" name="email" id="email" value="{{EMAIL}}" autocomplete="email">
</div>
<div class="field">
<label for="password">Password</label>
<input type="password" name="password" id="password" autocomplete="current-password">
</div>
<input type="hidden" name="_csrf" value="{{CSRF}}">
{{>ERRORS_BOX}}
<button type="submit">Sign In</button>
</form>
