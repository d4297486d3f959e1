// A page reached with ?notice= (what an action just did) says it once: the address
// bar drops the notice, so a reload, a bookmark or a shared link does not repeat it.
const url = new URL(window.location.href);
if (url.searchParams.has("notice")) {
  for (const key of ["notice", "of", "fields"]) url.searchParams.delete(key);
  window.history.replaceState(window.history.state, "", url);
}
