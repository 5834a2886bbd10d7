{{%AUTOESCAPE context="HTML"}}
{{#ERRORS}}
<div class="errors" role="alert">
<h4>Ooops....</h4>
<ul>
{{#ERROR}}
<li>{{MESSAGE}}</li>
{{/ERROR}}
</ul>
</div>
{{/ERRORS}}
