// The photo app's page. Its contract, for people and for browser tests alike:
//   - the file input is input[type=file];
//   - each upload is an element with data-upload-id and data-status: uploading | queued | processing | done | failed;
//   - a done upload contains an img whose src is its thumbnail's URL on this site (CloudFront);
//   - a failed upload contains its reason (.reason).
import { createUpload, getUpload, listUploads, postToS3 } from "./api.js";

const list = document.getElementById("uploads");
const input = document.getElementById("files");
const drop = document.getElementById("drop");
const problem = document.getElementById("problem");
const POLL_MS = 1000;
let localIds = 0;

function card(id, filename) {
  const item = document.createElement("li");
  item.className = "upload";
  item.dataset.uploadId = id;
  item.innerHTML = `<span class="name"></span><span class="status"></span><progress max="1" value="0"></progress>`;
  item.querySelector(".name").textContent = filename;
  list.prepend(item);
  return item;
}

function show(item, status, job = {}) {
  item.dataset.status = status;
  item.querySelector(".status").textContent = status;
  if (status === "done" && job.thumbnails && !item.querySelector("img")) {
    const img = document.createElement("img");
    img.alt = job.filename || "";
    img.src = new URL(job.thumbnails["256"], `${location.origin}/`).href;  // from the edge, like the page
    img.srcset = `${img.src} 256w, ${new URL(job.thumbnails["1024"], `${location.origin}/`).href} 1024w`;
    img.sizes = "(max-width: 600px) 100vw, 256px";
    item.append(img);
  }
  if (status === "failed") {
    const reason = item.querySelector(".reason") || item.appendChild(document.createElement("p"));
    reason.className = "reason";
    reason.textContent = job.reason || "failed";
  }
}

// The server's `uploading` means "no thumbnails yet": once S3 has the file, its event waits in the queue.
function statusOf(job, uploaded) {
  return job.status === "uploading" && uploaded ? "queued" : job.status;
}

async function follow(item, id) {
  for (;;) {
    let job;
    try {
      job = await getUpload(id);
    } catch (error) {
      await new Promise((resolve) => setTimeout(resolve, POLL_MS * 3));
      continue;
    }
    show(item, statusOf(job, true), job);
    if (job.status === "done" || job.status === "failed") return;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

async function upload(file) {
  const item = card(`local-${++localIds}`, file.name);
  show(item, "uploading");
  try {
    const { job, upload: target } = await createUpload(file);
    item.dataset.uploadId = job.id;
    await postToS3(target, file, (done) => { item.querySelector("progress").value = done; });
    show(item, "queued");
    await follow(item, job.id);
  } catch (error) {
    show(item, "failed", { reason: error.message });
  }
}

function uploadAll(files) {
  for (const file of files) upload(file);
}

input.addEventListener("change", () => { uploadAll([...input.files]); input.value = ""; });
drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (event) => {
  event.preventDefault();
  drop.classList.remove("over");
  uploadAll([...event.dataTransfer.files]);
});

// The recent uploads, as the table has them; unfinished ones are followed until they finish.
listUploads().then((jobs) => {
  for (const job of jobs.reverse()) {
    if (list.querySelector(`[data-upload-id="${job.id}"]`)) continue;
    const item = card(job.id, job.filename);
    show(item, statusOf(job, job.status !== "uploading"), job);
    if (job.status === "processing") follow(item, job.id);
  }
}).catch((error) => {
  problem.hidden = false;
  problem.textContent = `The API cannot be reached: ${error.message}`;
});
