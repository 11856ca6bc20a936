// Types of cli.mjs: the command line (`gainmlp-web decode|info ...`) as a function.

/** Run the command line on `argv` (without node and the script); resolves to the exit status. */
export function main(argv: string[]): Promise<number>;
