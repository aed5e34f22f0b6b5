// The VNC console page: connects noVNC's RFB client (vendored under
// static/novnc) to the websocket URL the compute API gave.
const screen = document.getElementById("vnc-screen");
const status = document.getElementById("vnc-status");

async function connect() {
  let RFB;
  try {
    ({ default: RFB } = await import(screen.dataset.rfb));
  } catch (error) {
    status.textContent = "Console not available: the noVNC client could not be loaded.";
    return;
  }
  const options = screen.dataset.password ? { credentials: { password: screen.dataset.password } } : {};
  const rfb = new RFB(screen, screen.dataset.url, options);
  rfb.scaleViewport = true;
  rfb.addEventListener("connect", () => { status.textContent = "Connected."; rfb.focus(); });
  rfb.addEventListener("disconnect", (event) => {
    status.textContent = event.detail.clean ? "Disconnected." : "Console not available: the connection failed.";
  });
  rfb.addEventListener("securityfailure", (event) => {
    status.textContent = `Console not available: ${event.detail.reason || "security negotiation failed"}.`;
  });
}

if (screen) {
  connect();
}
