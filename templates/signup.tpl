{{%AUTOESCAPE context="HTML"}}
<form method="post" action="/auth/signup" novalidate>
<h1>Sign Up</h1>
<div class="field">
<label for="email">Email Address</label>
<input type="email" name="email" id="email" value="{{EMAIL}}" autocomplete="email">
</div>
<div class="field">
<label for="password">Password</label>
<input type="password" name="password" id="password" autocomplete="new-password">
</div>
<input type="hidden" name="_csrf" value="{{CSRF}}">
{{>ERRORS_BOX}}
<button type="submit">Sign Up</button>
</form>
