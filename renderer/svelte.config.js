// Svelte compiler options for vite-plugin-svelte, svelte-check and eslint-plugin-svelte.
/** @type {import('svelte/compiler').CompileOptions} */
const compilerOptions = { runes: true };

export default { compilerOptions };
