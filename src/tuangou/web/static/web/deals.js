// Countdown: every element with data-ends (ISO 8601) shows the time left, updated each second.
(function () {
  function pad(n) { return n < 10 ? "0" + n : "" + n; }
  function tick() {
    document.querySelectorAll("[data-ends]").forEach(function (el) {
      var left = Math.max(0, Math.floor((Date.parse(el.dataset.ends) - Date.now()) / 1000));
      var d = Math.floor(left / 86400), h = Math.floor(left % 86400 / 3600), m = Math.floor(left % 3600 / 60), s = left % 60;
      el.textContent = (d ? d + (el.dataset.day || "d") + " " : "") + pad(h) + ":" + pad(m) + ":" + pad(s);
    });
  }
  tick();
  setInterval(tick, 1000);
})();
