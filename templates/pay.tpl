{{%AUTOESCAPE context="HTML"}}
<section class="card">
<h1>Checkout</h1>
<h4 class="price">Price: {{PRICE}}</h4>
<div class="checkout">
{{>ERRORS_BOX}}
{{#RETRY}}
<form method="post" action="/orders/{{ID}}/pay" class="pay">
<div class="field">
<label for="token">Card</label>
<select name="token" id="token">
<option value="tok_visa">Visa 4242 4242 4242 4242 (test card)</option>
<option value="tok_mastercard">Mastercard 5555 5555 5555 4444 (test card)</option>
<option value="tok_chargeDeclined">Visa 4000 0000 0000 0002 (declined)</option>
</select>
</div>
<input type="hidden" name="_csrf" value="{{CSRF}}">
<button type="submit">Pay</button>
</form>
{{/RETRY}}
</div>
</section>
<p class="back"><a href="/orders/{{ID}}">Back to the order</a></p>
