{{%AUTOESCAPE context="HTML"}}
<section class="card">
<h1>Page not found</h1>
<p>There is nothing at this address.</p>
<p><a href="/">Back to the tickets</a></p>
</section>
