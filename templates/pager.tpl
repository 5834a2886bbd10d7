{{%AUTOESCAPE context="HTML"}}
{{! Previous and Next under a list: plain links (keyset cursors in the URL), so they work without JavaScript. }}
<nav class="pager" aria-label="Pages">
{{#PREV}}
<a class="prev" rel="prev" href="{{HREF}}">&larr; Previous</a>
{{/PREV}}
{{#NEXT}}
<a class="next" rel="next" href="{{HREF}}">Next &rarr;</a>
{{/NEXT}}
</nav>
