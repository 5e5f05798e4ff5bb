// Files embedded into the compiled binary with `import x from "./f" with { type: "text" }`.
declare module "*.sql" { const text: string; export default text; }
declare module "*.css" { const text: string; export default text; }
declare module "*.ejs" { const text: string; export default text; }
declare module "*.min.js" { const text: string; export default text; }
declare module "*.sh" { const text: string; export default text; }
