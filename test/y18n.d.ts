// y18n (yargs' string table) ships no types; test/yargs-platform.test.ts compares with it.
declare module "y18n" {
  interface Y18N {
    __(text: string, ...args: unknown[]): string;
    __n(singular: string, plural: string, quantity: number, ...args: unknown[]): string;
  }
  export default function y18n(options: { directory: string; updateFiles: boolean }): Y18N;
}
