{{%AUTOESCAPE context="HTML"}}
<h1>My Tickets</h1>
{{>ERRORS_BOX}}
{{#LIST}}
<table class="tickets mine">
<thead>
<tr><th>Title</th><th>Price</th><th>Status</th><th>Link</th></tr>
</thead>
<tbody>
{{#TICKET}}
<tr data-status="{{STATUS}}"><td>{{TITLE}}</td><td>{{PRICE}}</td><td><span class="status status-{{STATUS}}">{{STATUS_LABEL}}</span></td><td><a href="/tickets/{{ID}}">View</a>{{#EDIT}} <a class="edit" href="/tickets/{{ID}}/edit">Edit</a>{{/EDIT}}</td></tr>
{{/TICKET}}
{{#NO_TICKETS}}
<tr><td colspan="4" class="empty">You have not listed any tickets yet. <a href="/tickets/new">Sell a ticket</a></td></tr>
{{/NO_TICKETS}}
{{#NO_MORE}}
<tr><td colspan="4" class="empty">No more tickets.</td></tr>
{{/NO_MORE}}
</tbody>
</table>
{{>PAGER}}
{{/LIST}}
