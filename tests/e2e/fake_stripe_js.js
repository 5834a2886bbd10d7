// fake_stripe_js.js: a stand-in for https://js.stripe.com/v3/, served by
// stripe.mjs through page.route (the test machine has no internet). It has
// only the surface static/app.js uses, with Stripe's shapes:
//
//   Stripe(key)                     -> stripe (the key is recorded)
//   stripe.elements().create('card') -> card: mount(el), on('change', fn)
//   stripe.createToken(card)        -> Promise of {token: {id}} or {error}
//
// The card is a plain text input rendered inside the mount element (Stripe
// renders an iframe from js.stripe.com instead). What is typed decides the
// token, as Stripe's test card numbers do: 4242 4242 4242 4242 -> tok_visa,
// 5555 5555 5555 4444 -> tok_mastercard, 4000 0000 0000 0002 ->
// tok_chargeDeclined; fewer than 16 digits is "Your card number is
// incomplete.", anything else "Your card number is invalid.". A change
// event carries {empty, complete, error} like Stripe's.
//
// window.__fakeStripe records what the page did, for the test to read:
// keys (each Stripe(key)), mounts, tokens (each createToken's result).
(function () {
	'use strict';

	var CARDS = {
		'4242424242424242': 'tok_visa',
		'5555555555554444': 'tok_mastercard',
		'4000000000000002': 'tok_chargeDeclined',
	};
	var seen = (window.__fakeStripe = { keys: [], mounts: 0, tokens: [] });

	function digitsOf(text) {
		return text.replace(/[\s-]/g, '');
	}

	// What Stripe would say about the number typed so far, or null.
	function problem(text, final) {
		var digits = digitsOf(text);
		if (/\D/.test(digits) || digits.length > 16)
			return { type: 'validation_error', code: 'invalid_number', message: 'Your card number is invalid.' };
		if (digits.length < 16)
			return final ? { type: 'validation_error', code: 'incomplete_number', message: 'Your card number is incomplete.' } : null;
		if (!CARDS[digits])
			return { type: 'validation_error', code: 'invalid_number', message: 'Your card number is invalid.' };
		return null;
	}

	function createCard() {
		var listeners = [];
		var input = null;
		var card = {
			mount: function (el) {
				if (!el || !el.appendChild)
					throw new Error('fake Stripe: mount() needs an element');
				if (input)
					throw new Error('fake Stripe: this card is already mounted');
				input = document.createElement('input');
				input.type = 'text';
				input.inputMode = 'numeric';
				input.autocomplete = 'cc-number';
				input.placeholder = 'Card number';
				input.setAttribute('aria-label', 'Card number');
				input.setAttribute('data-fake-stripe', 'card');
				input.addEventListener('input', function () {
					var error = problem(input.value, false);
					var digits = digitsOf(input.value);
					var event = { elementType: 'card', empty: digits === '', complete: !error && digits.length === 16 };
					if (error)
						event.error = error;
					listeners.forEach(function (fn) { fn(event); });
				});
				el.appendChild(input);
				seen.mounts++;
			},
			on: function (name, fn) {
				if (name === 'change')
					listeners.push(fn);
				return card;
			},
			_value: function () {
				if (!input)
					throw new Error('fake Stripe: createToken() with a card that is not mounted');
				return input.value;
			},
		};
		return card;
	}

	window.Stripe = function (key) {
		if (typeof key !== 'string' || !/^pk_(test|live)_/.test(key))
			throw new Error('fake Stripe: Invalid API Key provided: ' + key);
		seen.keys.push(key);
		var cards = [];
		return {
			elements: function () {
				return {
					create: function (type) {
						if (type !== 'card')
							throw new Error('fake Stripe: only card elements: ' + type);
						var card = createCard();
						cards.push(card);
						return card;
					},
				};
			},
			createToken: function (card) {
				if (cards.indexOf(card) < 0)
					return Promise.reject(new Error('fake Stripe: not a card of this Stripe instance'));
				var text = card._value();
				var error = problem(text, true);
				var result = error ? { error: error } : { token: { id: CARDS[digitsOf(text)], object: 'token', type: 'card' } };
				seen.tokens.push(result);
				// Stripe answers after a round trip to api.stripe.com.
				return new Promise(function (resolve) {
					setTimeout(function () { resolve(result); }, 50);
				});
			},
		};
	};
})();
