// Demo crasher: runs for 2-5 seconds, then fails with exit code 1 (or dies by a signal).
const lifetime = 2000 + Math.random() * 3000;
console.log(`up; will crash in ${Math.round(lifetime)}ms`);
setTimeout(() => {
  if (Math.random() < 0.3) {
    console.error('segfault simulated: raising SIGSEGV');
    process.kill(process.pid, 'SIGSEGV');
  } else {
    console.error('fatal: cannot reach the database (simulated)');
    process.exit(1);
  }
}, lifetime);
