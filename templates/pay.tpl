{{%AUTOESCAPE context="HTML"}}
<section class="card">
<h1>Checkout</h1>
<h4 class="price">Price: {{PRICE}}</h4>
<div class="checkout">
{{>ERRORS_BOX}}
{{#RETRY}}
<form method="post" action="/orders/{{ID}}/pay" class="pay">
{{>CARD_FIELD}}
<input type="hidden" name="_csrf" value="{{CSRF}}">
<button type="submit">Pay</button>
</form>
{{/RETRY}}
</div>
</section>
<p class="back"><a href="/orders/{{ID}}">Back to the order</a></p>
