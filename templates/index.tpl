{{%AUTOESCAPE context="HTML"}}
<h1>Tickets</h1>
{{>ERRORS_BOX}}
<table class="tickets">
<thead>
<tr><th>Title</th><th>Price</th><th>Link</th></tr>
</thead>
<tbody>
{{! ROWS is ticket_rows.tpl as rendered (and escaped) there, so it goes in as it is. }}
{{ROWS:none}}</tbody>
</table>
