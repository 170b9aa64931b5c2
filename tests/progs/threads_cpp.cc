// A threaded C++ program with deterministic output: worker threads build
// strings, vectors and maps, hand objects to other threads through a queue
// (freed by a different thread than the one that allocated them), and some
// threads exit while others keep allocating.
#include <condition_variable>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <queue>
#include <string>
#include <thread>
#include <vector>

struct Item {
    std::string name;
    std::vector<int> data;
};

static std::mutex mu;
static std::condition_variable cv;
static std::queue<std::unique_ptr<Item>> q;
static bool done = false;

static void producer(int id, int count) {
    for (int i = 0; i < count; i++) {
        auto it = std::make_unique<Item>();
        it->name = "item-" + std::to_string(id) + "-" + std::to_string(i);
        it->data.assign(static_cast<size_t>(i % 100 + 1), i);
        std::lock_guard<std::mutex> g(mu);
        q.push(std::move(it));
        cv.notify_one();
    }
}

static long consumer() {
    long sum = 0;
    for (;;) {
        std::unique_lock<std::mutex> g(mu);
        cv.wait(g, [] { return !q.empty() || done; });
        if (q.empty() && done)
            return sum;
        std::unique_ptr<Item> it = std::move(q.front());
        q.pop();
        g.unlock();
        for (int v : it->data)
            sum += v;
        sum += static_cast<long>(it->name.size());
    }
}

int main() {
    std::vector<std::thread> producers;
    long sums[2] = {0, 0};
    std::thread c1([&] { sums[0] = consumer(); });
    std::thread c2([&] { sums[1] = consumer(); });
    for (int round = 0; round < 3; round++) {
        for (int p = 0; p < 4; p++)
            producers.emplace_back(producer, p, 20000);
        for (auto &t : producers)
            t.join(); // these threads exit while the consumers keep allocating
        producers.clear();
    }
    {
        std::lock_guard<std::mutex> g(mu);
        done = true;
    }
    cv.notify_all();
    c1.join();
    c2.join();
    std::map<std::string, int> counts;
    for (int i = 0; i < 1000; i++)
        counts["k" + std::to_string(i % 37)]++;
    std::printf("total %ld, keys %zu\n", sums[0] + sums[1], counts.size());
    return 7;
}
