// anywidget entry point of the rt_jupyter voice widget (placeholder until the widget issue).
type Model = { get(name: string): unknown; on(event: string, cb: () => void): void };

function render({ model, el }: { model: Model; el: HTMLElement }): void {
  el.classList.add("rtj-widget");
  el.textContent = `rt_jupyter: ${String(model.get("status") ?? "idle")}`;
}

export default { render };
