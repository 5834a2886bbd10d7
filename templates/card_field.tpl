{{%AUTOESCAPE context="HTML"}}
{{#STRIPE}}
<div class="field">
<label for="card-element">Card</label>
<div id="card-element" class="card-element" data-stripe-key="{{PUBLISHABLE_KEY}}"></div>
<p class="card-error" id="card-errors" role="alert"></p>
<noscript><p class="card-error">Paying by card needs JavaScript.</p></noscript>
<input type="hidden" name="token" value="">
</div>
<script src="https://js.stripe.com/v3/"></script>
{{/STRIPE}}
{{#TEST_CARDS}}
<div class="field">
<label for="token">Card</label>
<select name="token" id="token">
<option value="tok_visa">Visa 4242 4242 4242 4242 (test card)</option>
<option value="tok_mastercard">Mastercard 5555 5555 5555 4444 (test card)</option>
<option value="tok_chargeDeclined">Visa 4000 0000 0000 0002 (declined)</option>
</select>
</div>
{{/TEST_CARDS}}
