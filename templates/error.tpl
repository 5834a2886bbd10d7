{{%AUTOESCAPE context="HTML"}}
<section class="card">
<h1>Something went wrong</h1>
<p>We could not complete your request. Please try again in a moment.</p>
{{>ERRORS_BOX}}
<p><a href="/">Back to the tickets</a></p>
</section>
