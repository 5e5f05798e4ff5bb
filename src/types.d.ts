// Files embedded into the compiled binary with `import x from "./f" with { type: "text" }`.
declare module "*.sql" { const text: string; export default text; }
declare module "*.css" { const text: string; export default text; }
declare module "*.ejs" { const text: string; export default text; }
declare module "*.min.js" { const text: string; export default text; }
declare module "*.sh" { const text: string; export default text; }
declare module "*.svg" { const text: string; export default text; }
// The admin UI's browser scripts (public/*.client.js), served as they are.
declare module "*.client.js" { const text: string; export default text; }
declare module "*.lua" { const text: string; export default text; }
