// Steps of a client run: each call, and each expectation about what came back, is one
// JSON line on stdout ({client, step, ok, error?}); the process exits 1 when any failed.

export function steps(clientName) {
  let failed = 0;
  const say = (record) => {
    if (!record.ok) failed += 1;
    process.stdout.write(JSON.stringify({ client: clientName, ...record }) + '\n');
  };
  const explain = (e) => {
    const parts = [e?.name, e?.message, e?.status && `status ${e.status}`];
    const body = e?.body ?? e?.response ?? e?.data;
    if (body !== undefined) parts.push(typeof body === 'string' ? body.slice(0, 800) : JSON.stringify(body).slice(0, 800));
    if (e?.cause?.issues) parts.push(JSON.stringify(e.cause.issues).slice(0, 1500));
    return parts.filter(Boolean).join(': ');
  };
  return {
    async step(name, call) {
      try {
        const value = await call();
        say({ step: name, ok: true });
        return value;
      } catch (e) {
        say({ step: name, ok: false, error: explain(e) });
        return undefined;
      }
    },
    expect(condition, what) {
      say({ step: `expect: ${what}`, ok: Boolean(condition) });
    },
    finish() {
      process.exitCode = failed ? 1 : 0;
    },
  };
}
