/* Tipline: asks for the form's proof of work, if the load calls for one, and solves it in a
   Web Worker (puzzle-worker.js, fetched only then). Loaded by the form's script when it
   sends; without JavaScript the form is still accepted (see tipline/public/puzzle.py). */
(function () {
  "use strict";
  var script = document.currentScript;
  var workerUrl = script && script.getAttribute("data-worker");

  function solve(puzzle, bits) {
    return new Promise(function (resolve, reject) {
      if (!window.Worker || !workerUrl) return reject(new Error("no worker"));
      var worker = new Worker(workerUrl);
      worker.onmessage = function (event) {
        if (event.data.answer === undefined) return; // progress
        worker.terminate();
        if (event.data.answer === null) reject(new Error("unsolved"));
        else resolve(event.data.answer);
      };
      worker.onerror = function (error) {
        worker.terminate();
        reject(error);
      };
      worker.postMessage({ puzzle: puzzle, bits: bits });
    });
  }

  /* Fills the form's puzzle fields when the server asks for a puzzle; resolves either way
     (a post without a solved puzzle is accepted, at worst held for review). */
  function prepare(form) {
    var url = form.getAttribute("data-puzzle-url");
    if (!url || !window.fetch) return Promise.resolve(false);
    return fetch(url, { credentials: "omit", cache: "no-store" })
      .then(function (response) {
        return response.ok ? response.json() : { puzzle: null };
      })
      .then(function (asked) {
        if (!asked.puzzle) return false;
        return solve(asked.puzzle, asked.bits).then(function (answer) {
          setField(form, "puzzle", asked.puzzle);
          setField(form, "puzzle_answer", answer);
          return true;
        });
      })
      .catch(function () {
        return false;
      });
  }

  function setField(form, name, value) {
    var input = form.querySelector('input[name="' + name + '"]');
    if (!input) {
      input = document.createElement("input");
      input.type = "hidden";
      input.name = name;
      form.appendChild(input);
    }
    input.value = value;
  }

  window.TiplinePuzzle = { prepare: prepare, solve: solve };
})();
