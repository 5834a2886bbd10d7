// app.js: the few behaviours the server-rendered pages need; no framework.
// Loaded with defer from layout.tpl, so the DOM is ready when this runs.
(function () {
	'use strict';

	// The sign-out page posts its form at once when JavaScript is on.
	var signout = document.getElementById('signout-form');
	if (signout) {
		signout.submit();
	}

	// Price inputs: "5" -> "5.00", "3.456" -> "3.46"; anything else is kept.
	document.querySelectorAll('input[data-money]').forEach(function (input) {
		input.addEventListener('blur', function () {
			var value = parseFloat(input.value);
			if (!isNaN(value)) {
				input.value = value.toFixed(2);
			}
		});
	});

	// What the server renders for an expired order (order.tpl's EXPIRED),
	// built without innerHTML: the pay form goes, the outcome stays.
	function showExpired(root) {
		var p = document.createElement('p');
		p.className = 'outcome expired';
		p.textContent = 'Order Expired';
		root.replaceChildren(p);
	}

	// Order countdown. data-now is the server's clock in ms, so a wrong
	// client clock does not change the time left.
	document.querySelectorAll('[data-expires-at]').forEach(function (el) {
		var expiresAt = Date.parse(el.getAttribute('data-expires-at'));
		var serverNow = Number(el.getAttribute('data-now'));
		var offset = isNaN(serverNow) ? 0 : serverNow - Date.now();
		var root = el.closest('[data-countdown-root]') || el;
		var timer = null;

		// Returns false once there is nothing left to count.
		function tick() {
			var left = Math.round((expiresAt - (Date.now() + offset)) / 1000);
			if (isNaN(left)) {
				return false;
			}
			if (left < 0) {
				if (timer !== null) {
					clearInterval(timer);
				}
				showExpired(root);
				return false;
			}
			el.textContent = 'Time left to pay: ' + left + ' seconds';
			return true;
		}

		if (tick()) {
			timer = setInterval(tick, 1000);
		}
	});

	// Stripe Elements (PAYMENT_PROVIDER=stripe with STRIPE_PUBLISHABLE_KEY):
	// the card is typed into Stripe's frame, Stripe.js turns it into a
	// token, and the form posts the token like the test-card choice.
	var cardRoot = document.getElementById('card-element');
	if (cardRoot && typeof window.Stripe === 'function') {
		var stripe = window.Stripe(cardRoot.getAttribute('data-stripe-key'));
		var card = stripe.elements().create('card');
		var form = cardRoot.closest('form');
		var tokenInput = form.querySelector('input[name="token"]');
		var cardErrors = document.getElementById('card-errors');
		var pending = false;
		card.mount(cardRoot);
		card.on('change', function (event) {
			cardErrors.textContent = event.error ? event.error.message : '';
		});
		form.addEventListener('submit', function (event) {
			event.preventDefault();
			if (pending) {
				return;
			}
			pending = true;
			stripe.createToken(card).then(function (result) {
				if (result.error) {
					pending = false;
					cardErrors.textContent = result.error.message;
					return;
				}
				tokenInput.value = result.token.id;
				// No submit event: posts once. pending stays set, so
				// a click while the charge is under way does not post
				// again (that POST would cancel this page load and
				// answer "Order has already been paid").
				form.submit();
			});
		});
		// Back to this page from the back-forward cache: it may post again.
		window.addEventListener('pageshow', function (event) {
			if (event.persisted) {
				pending = false;
			}
		});
	}
})();
