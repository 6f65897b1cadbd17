// The receiver signs on the rep's phone: strokes on a <canvas>, sent as a PNG data URL in a
// hidden field. No library; pointer events cover mouse, pen and touch.
(function () {
  "use strict";
  var canvas = document.getElementById("signature-pad");
  if (!canvas) { return; }
  var target = document.getElementById(canvas.getAttribute("data-target"));
  var ctx = canvas.getContext("2d");
  var drawing = false;
  var drawn = false;
  ctx.lineWidth = 3;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  ctx.strokeStyle = "#111";

  function point(event) {
    var box = canvas.getBoundingClientRect();
    return {
      x: (event.clientX - box.left) * (canvas.width / box.width),
      y: (event.clientY - box.top) * (canvas.height / box.height)
    };
  }
  canvas.addEventListener("pointerdown", function (event) {
    drawing = true;
    canvas.setPointerCapture(event.pointerId);
    var p = point(event);
    ctx.beginPath();
    ctx.moveTo(p.x, p.y);
    event.preventDefault();
  });
  canvas.addEventListener("pointermove", function (event) {
    if (!drawing) { return; }
    var p = point(event);
    ctx.lineTo(p.x, p.y);
    ctx.stroke();
    drawn = true;
    event.preventDefault();
  });
  function stop() {
    if (drawing && drawn && target) { target.value = canvas.toDataURL("image/png"); }
    drawing = false;
  }
  canvas.addEventListener("pointerup", stop);
  canvas.addEventListener("pointercancel", stop);
  canvas.addEventListener("pointerleave", stop);
  var clear = document.getElementById("signature-clear");
  if (clear) {
    clear.addEventListener("click", function () {
      ctx.clearRect(0, 0, canvas.width, canvas.height);
      drawn = false;
      if (target) { target.value = ""; }
    });
  }
})();
