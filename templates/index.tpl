{{%AUTOESCAPE context="HTML"}}
<h1>Tickets</h1>
{{>ERRORS_BOX}}
<table class="tickets">
<thead>
<tr><th>Title</th><th>Price</th><th>Link</th></tr>
</thead>
<tbody>
{{#TICKET}}
<tr><td>{{TITLE}}</td><td>{{PRICE}}</td><td><a href="/tickets/{{ID}}">View</a></td></tr>
{{/TICKET}}
{{#NO_TICKETS}}
<tr><td colspan="3" class="empty">No tickets for sale yet.</td></tr>
{{/NO_TICKETS}}
</tbody>
</table>
