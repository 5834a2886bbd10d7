{{%AUTOESCAPE context="HTML"}}
<section class="card">
<h1>{{TITLE}}</h1>
<h4 class="price">Price: {{PRICE}}</h4>
<div class="checkout" data-countdown-root>
{{#PAYABLE}}
<p class="countdown" aria-live="polite"><span data-expires-at="{{EXPIRES_AT}}" data-now="{{NOW_MS}}">Time left to pay: {{SECONDS}} seconds</span></p>
<form method="post" action="/orders/{{ID}}/pay" class="pay">
{{>CARD_FIELD}}
<input type="hidden" name="_csrf" value="{{CSRF}}">
{{>ERRORS_BOX}}
<button type="submit">Pay</button>
</form>
{{/PAYABLE}}
{{#EXPIRED}}
<p class="outcome expired">Order Expired</p>
{{/EXPIRED}}
{{#CANCELLED}}
<p class="outcome cancelled">This order was cancelled.</p>
{{/CANCELLED}}
{{#PAID}}
<p class="outcome paid">Paid. This ticket is yours.</p>
{{/PAID}}
</div>
</section>
<p class="back"><a href="/orders">My orders</a></p>
