// anywidget entry of the rt_jupyter voice widget: `initialize` once per model (the call lives
// there, shared by every view of the model), `render` once per view. Both return their cleanup.
// anywidget hands each of them its own proxy of the model, so the controller is found through
// the model's `_instance` id rather than the proxy object.

import { Controller } from "./controller";
import { AnyModel } from "./types";
import { View } from "./view";

const controllers = new Map<string, Controller>();

function key(model: AnyModel): string {
  return String(model.get("_instance") || "");
}

function initialize({ model }: { model: AnyModel }): () => void {
  const id = key(model);
  controllers.get(id)?.dispose();
  const controller = new Controller(model);
  controllers.set(id, controller);
  return () => {
    controller.dispose();
    if (controllers.get(id) === controller) controllers.delete(id);
  };
}

function render({ model, el }: { model: AnyModel; el: HTMLElement }): () => void {
  let controller = controllers.get(key(model));
  if (!controller) {
    // a host that renders without initializing: the view owns the controller
    controller = new Controller(model);
    controllers.set(key(model), controller);
  }
  const view = new View(controller, model, el);
  return () => view.dispose();
}

export default { initialize, render };
