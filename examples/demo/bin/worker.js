// Demo worker: one unit of work every two seconds.
let n = 0;
setInterval(() => console.log(`processed job ${++n}`), 2000);
process.on('SIGTERM', () => {
  console.log(`SIGTERM after ${n} jobs`);
  process.exit(0);
});
