{{%AUTOESCAPE context="HTML"}}
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{TITLE}} · GitTix</title>
<link rel="stylesheet" href="/static/style.css">
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
<script src="/static/app.js" defer></script>
</head>
<body>
<header class="topbar">
<nav>
<a class="brand" href="/">GitTix</a>
<ul>
{{#SIGNED_OUT}}
<li><a href="/auth/signup">Sign Up</a></li>
<li><a href="/auth/signin">Sign In</a></li>
{{/SIGNED_OUT}}
{{#SIGNED_IN}}
<li><a href="/tickets/new">Sell Tickets</a></li>
<li><a href="/tickets/mine">My Tickets</a></li>
<li><a href="/orders">My Orders</a></li>
<li><a href="/auth/signout">Sign Out</a></li>
{{/SIGNED_IN}}
</ul>
</nav>
</header>
<main>
{{>BODY}}
</main>
</body>
</html>
