// The photo app's API client: where the API is (config.json, written next to this page when the site is
// published), and its three routes.

let base;

async function api() {
  if (!base) {
    const config = await (await fetch("config.json", { cache: "no-store" })).json();
    base = config.api.replace(/\/$/, "");
  }
  return base;
}

async function answer(response) {
  const doc = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(doc.message || `the API answered ${response.status}`);
  return doc;
}

export async function createUpload(file) {
  const body = JSON.stringify({ filename: file.name, contentType: file.type, size: file.size });
  return answer(await fetch(`${await api()}/uploads`, {
    method: "POST", headers: { "content-type": "application/json" }, body,
  }));
}

export async function getUpload(id) {
  return (await answer(await fetch(`${await api()}/uploads/${encodeURIComponent(id)}`))).job;
}

export async function listUploads() {
  return (await answer(await fetch(`${await api()}/uploads`))).jobs;
}

// The presigned POST: the policy's fields, then the file (S3 reads the fields before the file), through
// XMLHttpRequest because fetch reports no upload progress.
export function postToS3(upload, file, onProgress) {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    for (const [name, value] of Object.entries(upload.fields)) form.append(name, value);
    form.append("file", file);
    const request = new XMLHttpRequest();
    request.open("POST", upload.url);
    request.upload.onprogress = (event) => { if (event.lengthComputable) onProgress(event.loaded / event.total); };
    request.onload = () => {
      if (request.status >= 200 && request.status < 300) return resolve();
      const code = /<Message>([^<]*)<\/Message>/.exec(request.responseText || "");
      reject(new Error(`S3 refused the upload: ${code ? code[1] : request.status}`));
    };
    request.onerror = () => reject(new Error("the upload to S3 did not go through"));
    request.send(form);
  });
}
