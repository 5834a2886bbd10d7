{{%AUTOESCAPE context="HTML"}}
<h1>Tickets</h1>
<form class="search" method="get" action="/" role="search">
<div class="field grow">
<label for="q">Search</label>
<input type="search" name="q" id="q" value="{{Q}}" maxlength="100" placeholder="Title words, e.g. jazz lisbon">
</div>
<div class="field">
<label for="sort">Sort</label>
<select name="sort" id="sort">
{{#SORT}}
<option value="{{VALUE}}"{{#SELECTED}} selected{{/SELECTED}}>{{LABEL}}</option>
{{/SORT}}
</select>
</div>
{{#LIMIT}}
<input type="hidden" name="limit" value="{{VALUE}}">
{{/LIMIT}}
<button type="submit">Search</button>
</form>
{{>ERRORS_BOX}}
{{#LIST}}
<table class="tickets">
<thead>
<tr><th>Title</th><th>Price</th><th>Link</th></tr>
</thead>
<tbody>
{{! ROWS is ticket_rows.tpl as rendered (and escaped) there, so it goes in as it is. }}
{{ROWS:none}}</tbody>
</table>
{{>PAGER}}
{{/LIST}}
