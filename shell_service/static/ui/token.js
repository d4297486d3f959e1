// A new token's page: copy its secret, and keep it off the history. The page's
// history entry becomes the page it came from, so a reload or a return shows
// that page, not the secret (which is in no URL and no cookie).

const box = document.getElementById("token-created");
const secret = document.getElementById("token-secret");
const status = document.getElementById("copy-status");

if (box && box.dataset.back) {
  history.replaceState(null, "", box.dataset.back);
}

function selectSecret() {
  secret.focus();
  secret.select();
  secret.setSelectionRange(0, secret.value.length);
}

secret.addEventListener("focus", selectSecret);

document.getElementById("copy-token").addEventListener("click", async () => {
  // The clipboard API needs a secure context (https, or this machine); else the
  // secret is selected for Ctrl+C.
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(secret.value);
      status.textContent = "Copied.";
      return;
    } catch (err) {
      // Refused (no permission): fall through to the selection.
    }
  }
  selectSecret();
  status.textContent = "Selected: press Ctrl+C (⌘C) to copy.";
});
