// The agent's version, from package.json (a compiled binary has no package.json to read).
import packageJson from "../package.json" with { type: "json" };

export const VERSION = packageJson.version;
