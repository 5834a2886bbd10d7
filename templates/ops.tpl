{{%AUTOESCAPE context="HTML"}}
<h1>Operations</h1>
{{#FLASH}}<p class="flash" role="status">{{MESSAGE}}</p>{{/FLASH}}
<section id="dependencies">
<h2>Dependencies</h2>
<ul class="deps">
<li data-ok="{{PG_OK}}">Postgres: {{PG_STATUS}}</li>
<li data-ok="{{REDIS_OK}}">Redis: {{REDIS_STATUS}}</li>
</ul>
</section>
<section id="outbox">
<h2>Outbox</h2>
<table class="ops">
<thead><tr><th>Schema</th><th>Unpublished</th><th>Oldest (s)</th></tr></thead>
<tbody>
{{#OUTBOX}}<tr><td>{{SCHEMA}}</td><td>{{UNPUBLISHED}}</td><td>{{OLDEST}}</td></tr>
{{/OUTBOX}}
</tbody>
</table>
</section>
<section id="streams">
<h2>Streams</h2>
<table class="ops">
<thead><tr><th>Stream</th><th>Length</th><th>First id</th><th>Last id</th></tr></thead>
<tbody>
{{#STREAM}}<tr data-stream="{{SUBJECT}}"><td>{{SUBJECT}}</td><td>{{LENGTH}}</td><td>{{FIRST}}</td><td>{{LAST}}</td></tr>
{{/STREAM}}
</tbody>
</table>
</section>
<section id="groups">
<h2>Groups</h2>
<table class="ops">
<thead><tr><th>Stream</th><th>Group</th><th>Consumers</th><th>Pending</th><th>Oldest pending</th><th>Newest pending</th><th>Last delivered</th><th>Undelivered</th><th>Lag (s)</th></tr></thead>
<tbody>
{{#GROUP}}<tr data-group="{{NAME}}"><td>{{STREAM}}</td><td>{{NAME}}</td><td>{{CONSUMERS}}</td><td>{{PENDING}}</td><td>{{OLDEST_PENDING}}</td><td>{{NEWEST_PENDING}}</td><td>{{LAST_DELIVERED}}</td><td>{{LAG}}</td><td>{{LAG_SECONDS}}</td></tr>
{{/GROUP}}
</tbody>
</table>
</section>
<section id="consumers">
<h2>Consumers</h2>
<table class="ops">
<thead><tr><th>Stream</th><th>Group</th><th>Consumer</th><th>Pending</th><th>Idle (ms)</th></tr></thead>
<tbody>
{{#CONSUMER}}<tr><td>{{STREAM}}</td><td>{{GROUP}}</td><td>{{NAME}}</td><td>{{PENDING}}</td><td>{{IDLE}}</td></tr>
{{/CONSUMER}}
</tbody>
</table>
</section>
<section id="dead-letters">
<h2>Dead letters ({{DEAD_TOTAL}}; the latest 50)</h2>
<table class="ops">
<thead><tr><th>Entry</th><th>Subject</th><th>Group</th><th>Event id</th><th>Error</th><th></th></tr></thead>
<tbody>
{{#DEAD}}<tr data-entry="{{ENTRY}}"><td>{{ENTRY}}</td><td>{{SUBJECT}}</td><td>{{GROUP}}</td><td>{{ID}}</td><td>{{ERROR}}</td>
<td><form method="post" action="/ops/replay"><input type="hidden" name="_csrf" value="{{CSRF}}"><input type="hidden" name="entry" value="{{ENTRY}}"><button type="submit">Replay</button></form></td></tr>
{{/DEAD}}
{{#NO_DEAD}}<tr><td colspan="6">No dead letters.</td></tr>
{{/NO_DEAD}}
</tbody>
</table>
</section>
