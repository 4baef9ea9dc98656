// Kubernetes' $(VAR) expansion, as the kubelet applies it to a container's command, args,
// env values, exec probes and subPathExpr (k8s.io/kubernetes third_party/forked/golang/expansion):
// `$(NAME)` becomes the variable's value when it is defined and stays literally `$(NAME)` when
// it is not; `$$` is one `$`; any other `$` is kept as it is; values are not expanded again.

/**
 * A value only the running pod knows (env `valueFrom`: the pod IP, a resource limit). It is a
 * path character to the reference scanner, so a path built from it is never taken for a host
 * file: nobody can tell which file it names.
 */
export const RUN_TIME_VALUE = "\u0001";

/** A variable's value, or undefined when the variable is not defined. */
type Lookup = (name: string) => string | undefined;

export function expand(input: string, lookup: Lookup): string {
  let output = "";
  let index = 0;
  while (index < input.length) {
    const dollar = input.indexOf("$", index);
    if (dollar < 0 || dollar === input.length - 1) break;
    output += input.slice(index, dollar);
    const next = input[dollar + 1];
    if (next === "$") {
      output += "$";
      index = dollar + 2;
    } else if (next === "(" && input.indexOf(")", dollar + 2) >= 0) {
      const close = input.indexOf(")", dollar + 2);
      const name = input.slice(dollar + 2, close);
      output += lookup(name) ?? `$(${name})`;
      index = close + 1;
    } else {
      output += `$${next ?? ""}`;
      index = dollar + 2;
    }
  }
  return output + input.slice(index);
}

export interface EnvVar {
  name: string;
  /** undefined: `valueFrom`, known only at run time. */
  value: string | undefined;
}

/**
 * The environment the container's processes get: each `value` expanded against the variables
 * defined before it, in order (a later entry of the same name wins), as the kubelet builds it.
 */
export function runtimeEnvironment(env: readonly EnvVar[]): Map<string, string> {
  const defined = new Map<string, string>();
  for (const variable of env) {
    defined.set(variable.name, variable.value === undefined ? RUN_TIME_VALUE : expand(variable.value, (name) => defined.get(name)));
  }
  return defined;
}

/**
 * What exec probes are expanded against (kubelet's ExpandContainerCommandOnlyStatic): every
 * variable's literal `value`, unexpanded, and "" for a `valueFrom` one.
 */
export function staticEnvironment(env: readonly EnvVar[]): Map<string, string> {
  return new Map(env.map((variable) => [variable.name, variable.value ?? ""]));
}
