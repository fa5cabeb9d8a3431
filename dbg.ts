import { startTestApp } from '/work/main/test/support/app.ts';
const t = await startTestApp();
const g = await t.graphql('{ document(id: "bad") { id } }');
console.log(JSON.stringify(g.body));
const g2 = await t.graphql('{ document(id: "x") { id }');
console.log(g2.status, JSON.stringify(g2.body));
console.log(t.logs.text.slice(0, 4000));
await t.close();
process.exit(0);
