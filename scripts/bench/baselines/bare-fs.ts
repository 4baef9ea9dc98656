// The bare program, printing its line through node:fs as the agent does: what loading
// node:fs (which every command touching a file needs) adds to the runtime's floor.
import { writeSync } from "node:fs";

writeSync(1, "0.0.0\n");
