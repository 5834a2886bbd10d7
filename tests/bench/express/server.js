// server.js: the peer for `make bench`: the same ticket list as JSON and as
// escaped HTML, from the same database, written the way the Express and
// postgres.js documentation would have it: one process (node's default; a
// Node user adds cluster later, if ever), the default pool of 10 connections,
// a template literal with an escape helper for the page.
import express from 'express';
import postgres from 'postgres';

// The connection comes from the PG* environment variables (PGHOST may be
// the unix socket directory).
const sql = postgres({ max: 10 });
const app = express();
app.disable('x-powered-by');

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => ({
  '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
}[c]));
const price = (cents) => Number(cents) / 100;

const listTickets = () => sql`
  SELECT id, title, price_cents, user_id, order_id, version
  FROM tickets.tickets WHERE order_id IS NULL ORDER BY seq`;

const toJson = (t) => ({
  title: t.title,
  price: price(t.price_cents),
  userId: t.user_id,
  ...(t.order_id ? { orderId: t.order_id } : {}),
  version: t.version,
  id: t.id,
});

app.get('/api/tickets', async (req, res, next) => {
  try {
    res.json((await listTickets()).map(toJson));
  } catch (err) {
    next(err);
  }
});

app.get('/api/tickets/:id', async (req, res, next) => {
  try {
    const [t] = await sql`
      SELECT id, title, price_cents, user_id, order_id, version
      FROM tickets.tickets WHERE id = ${req.params.id}`;
    if (!t) return res.status(404).json({ errors: [{ message: 'Not Found' }] });
    res.json(toJson(t));
  } catch (err) {
    next(err);
  }
});

app.get('/', async (req, res, next) => {
  try {
    const rows = (await listTickets()).map((t) =>
      `<tr><td>${escape(t.title)}</td><td>${price(t.price_cents)}</td>` +
      `<td><a href="/tickets/${escape(t.id)}">View</a></td></tr>`).join('\n');
    res.send(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Tickets · GitTix</title>
<link rel="stylesheet" href="/static/style.css">
</head>
<body>
<main>
<h1>Tickets</h1>
<table class="tickets">
<thead><tr><th>Title</th><th>Price</th><th>Link</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>
</main>
</body>
</html>`);
  } catch (err) {
    next(err);
  }
});

const port = Number(process.env.PORT || 3000);
app.listen(port, '127.0.0.1', () => console.log(`express on 127.0.0.1:${port}`));
