// The request form asks for suggestions with `q`: the subject and the description together.
(function () {
  "use strict";
  function sync() {
    var q = document.getElementById("id_q");
    var s = document.getElementById("id_subject");
    var d = document.getElementById("id_description");
    if (q && s && d) { q.value = (s.value + " " + d.value).trim().slice(0, 500); }
  }
  document.addEventListener("input", function (e) {
    if (e.target && (e.target.id === "id_subject" || e.target.id === "id_description")) { sync(); }
  }, true);
})();
