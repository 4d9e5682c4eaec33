// Small helps only: the forms work the same without this file.
"use strict";
(function () {
  var problem = document.getElementById("problem");
  var count = document.getElementById("problem-count");
  if (problem && count) {
    var max = Number(problem.getAttribute("data-max")) || 0;
    var show = function () {
      var length = Array.from(problem.value).length;
      count.textContent = "已填写 " + length + " 字" + (max && length > max ? "，超出 " + (length - max) + " 字" : "");
    };
    problem.addEventListener("input", show);
    show();
  }
  // One press sends the form once: a second press while it is on its way does nothing.
  document.querySelectorAll("form").forEach(function (form) {
    form.addEventListener("submit", function () {
      var button = form.querySelector("button[type=submit]");
      if (button) { window.setTimeout(function () { button.disabled = true; }, 0); }
    });
  });
})();
