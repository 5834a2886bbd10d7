{{%AUTOESCAPE context="HTML"}}
{{! The rows of index.tpl's table. Rendered once per change to the list and kept in the tickets program's cache (lib/tickets/list.c); index.tpl inserts the result as ROWS without escaping it again, so every value here must be escaped by this template. }}
{{#TICKET}}
<tr><td>{{TITLE}}</td><td>{{PRICE}}</td><td><a href="/tickets/{{ID}}">View</a></td></tr>
{{/TICKET}}
{{#NO_TICKETS}}
<tr><td colspan="3" class="empty">No tickets for sale yet.</td></tr>
{{/NO_TICKETS}}
{{#NO_MATCH}}
<tr><td colspan="3" class="empty">No tickets match your search.</td></tr>
{{/NO_MATCH}}
{{#NO_MORE}}
<tr><td colspan="3" class="empty">No more tickets.</td></tr>
{{/NO_MORE}}
