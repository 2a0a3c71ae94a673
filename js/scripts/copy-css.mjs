import { copyFileSync, mkdirSync } from "node:fs";
mkdirSync("../rt_jupyter/static", { recursive: true });
copyFileSync("src/widget.css", "../rt_jupyter/static/widget.css");
