// Demo web server: answers every request with a line of text; stops cleanly on SIGTERM.
import http from 'node:http';

const port = Number(process.env.PORT ?? 8080);
const server = http.createServer((req, res) => {
  res.end(`hello from pid ${process.pid}, up ${Math.round(process.uptime())}s\n`);
  console.log(`${req.method} ${req.url}`);
});
server.listen(port, '127.0.0.1', () => console.log(`listening on http://127.0.0.1:${port}/`));
process.on('SIGTERM', () => {
  console.log('SIGTERM: closing');
  server.close(() => process.exit(0));
});
