// The start-up floor `npm run bench` compares the agent with: a program that prints one line,
// compiled by scripts/build.ts with the agent's flags. What it costs is the Bun runtime's.
console.log("0.0.0");
